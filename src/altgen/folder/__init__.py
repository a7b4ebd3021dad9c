"""A folder of photos from the shell: ``altgen describe`` on files and folders, and ``altgen find``."""
