"""One settings model, its layered resolution (flag > environment > instance > config > profile >
default) and the hardware profiles."""
