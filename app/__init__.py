"""The PyQt6 window of LGPS Live: video view, controls, status bar, dialogs. No model code here."""
