"""Object stores: a flat namespace of versioned objects behind one small interface (``base.py``),
shared by the offsite archive, the snapshot S3 store and the S3 evidence ledger. ``s3.py``
implements it for S3 (boto3); a future store sits beside it as a sibling module."""
