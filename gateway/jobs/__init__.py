"""The video state machine and the steps that move a video through it."""
