try:
    from tuiexplore.cli import main
except KeyboardInterrupt:  # Ctrl-C while Python is still importing: nothing has started yet
    raise SystemExit(130) from None

raise SystemExit(main())
