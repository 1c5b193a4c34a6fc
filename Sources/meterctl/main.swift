// meterctl: the admin command line of meterd. Commands are in MeterControl.swift and one file
// per command group; this file only runs the parser and turns errors into exit codes.
await MeterControl.runAndExit()
