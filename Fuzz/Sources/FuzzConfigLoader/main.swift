import CLibFuzzer
import Glibc

// SwiftPM gives every executable its own main, so libFuzzer runs as a library: its driver,
// called with the command line and this target's entry point.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzConfigLoader))
