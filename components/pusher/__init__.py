"""The Pusher: TFX's, with an atomic push and no duplicate versions."""
