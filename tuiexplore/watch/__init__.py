"""Watch mode: every TCP connection on a live box (or in a pcap), and how and why it ended."""
