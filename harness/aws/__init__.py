"""AWS endpoints (embedded moto, LocalStack, real AWS) and S3 plumbing shared by every lane."""
