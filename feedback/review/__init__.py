"""The review workbench: the queue, decisions, assignment, tags, comments, bulk actions."""
