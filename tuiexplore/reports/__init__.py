"""Report views: text, Markdown and bundle writers over the event timeline. No Textual here."""
