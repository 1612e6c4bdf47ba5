"""Online state in Valkey/Redis: time-windowed seen-items filters and decayed popularity."""
