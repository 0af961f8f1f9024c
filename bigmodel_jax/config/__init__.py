"""Config sections (each key declared once, with its default, comment and check) and their validation."""
