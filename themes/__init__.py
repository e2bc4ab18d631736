"""Theme data for tuiexplore's UI (installed as the package ``tuiexplore.themes``)."""
