from tuiexplore.cli import main

raise SystemExit(main())
