print("meterd: not yet")
