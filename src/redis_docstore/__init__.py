"""redis-docstore: JSON documents in Redis Stack with genre-filtered semantic search."""
