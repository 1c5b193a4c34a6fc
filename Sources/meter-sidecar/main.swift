print("sidecar")
