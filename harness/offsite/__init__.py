"""Offsite archive on S3: provisioning, bucket posture, upload and checksum-verified fetch (R2).

One module per stage: ``keys`` (object names), ``settings`` (scenario options), ``provision``,
``posture``, ``upload``, ``fetch``; ``session`` ties them to a lane and ``cli`` to ``drill``.
"""
