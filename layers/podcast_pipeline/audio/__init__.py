"""MP3 measurement: exact size and duration from a few small reads, on local files or S3 objects."""

from podcast_pipeline.audio.measure import MAX_AUDIO_BYTES, AudioFacts, measure, measure_file
from podcast_pipeline.audio.s3_reader import S3RangedReader, object_gone, probe_s3_object

__all__ = [
    "MAX_AUDIO_BYTES",
    "AudioFacts",
    "S3RangedReader",
    "measure",
    "measure_file",
    "object_gone",
    "probe_s3_object",
]
