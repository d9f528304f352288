"""Telling people what the pipeline did: Slack, e-mail through SNS, and WebSub pings for feeds.

`messages` builds what is said, `service` decides who hears it exactly once, `slack`/`websub` send it
over `transport`. No module here imports boto3. (The loopback stand-in for a Slack webhook is a tool:
`podcast_pipeline_tools.sink`.)
"""
