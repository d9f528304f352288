"""MP3 measurement: exact size and duration from a few small reads (`measure`); `s3_reader` reads them
from S3 objects."""

from podcast_pipeline.audio.measure import MAX_AUDIO_BYTES, AudioFacts, measure, measure_file

__all__ = ["MAX_AUDIO_BYTES", "AudioFacts", "measure", "measure_file"]
