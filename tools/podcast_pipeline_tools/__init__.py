"""The tools around the pipeline: the `podcast-pipeline` command line (check, fix, backfill, feed diff), the
local runner on an embedded AWS emulation, the stand-in Slack webhook and the sample show.

They use the runtime package `podcast_pipeline` (the shared-code layer) and never ship to Lambda; the
runtime never imports them.
"""
