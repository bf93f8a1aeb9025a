"""Book plumbing: the Sphinx extension, the source hash that keys the execution cache, and the
generation of Colab notebooks from the MyST lesson pages."""
