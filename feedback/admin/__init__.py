"""Administration: organisations, users, the plan taxonomy and tags."""
