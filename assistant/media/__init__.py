"""The media library: an index of photos, videos and music under the configured roots, albums,
duplicates, organizing with a journal and undo, and music playback."""
