print("meterctl")
