"""The real-media world: Tux Paint stamps (pictures of real objects with their own recorded sounds) as sources."""
