"""Telling people what the pipeline did: Slack, e-mail through SNS, and WebSub pings for feeds.

`messages` builds what is said, `service` decides who hears it exactly once, `slack`/`websub` send it
over `transport`, and `sink` is a loopback stand-in for a Slack webhook. No module here imports boto3.
"""
