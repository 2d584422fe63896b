"""Built-in tasks the sweep trains; each module imports its own optional dependencies."""
