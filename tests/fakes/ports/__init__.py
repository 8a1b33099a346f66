"""In-memory fakes of the core's own ports: working implementations, not mocks."""
