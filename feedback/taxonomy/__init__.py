"""The plan taxonomy and the tag vocabulary: seed data and editing."""
