"""Support for tests and benchmarks (a local S3 server). Not shipped in the wheel."""
