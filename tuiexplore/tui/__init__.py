"""The Textual explorer: the only package that imports Textual."""

import os

# Frames are composed only when something changed; a 120 fps cap (Textual's default is 60) cuts
# the wait between a packet's arrival and its row on screen. TEXTUAL_FPS set by the user wins.
os.environ.setdefault("TEXTUAL_FPS", "120")
