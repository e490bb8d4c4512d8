"""Home page, health checks, language choice and the user's own organisation."""
