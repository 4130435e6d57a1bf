#!/usr/bin/env bash
# SecretMasker's cost on what a session append masks: a 50 KB tool result without a secret, four
# configured secrets. The product file (Sources/LocalGPTCore/Security/SecretMasker.swift, which needs
# only JSONValue) is compiled with `swiftc -O` next to a small timing loop, so no release build of the
# package is needed. Best of 5 rounds per row; the references put the figures in context.
#
#   scripts/bench-secret-masker.sh
#   SWIFTC=/opt/swift/usr/bin/swiftc scripts/bench-secret-masker.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFTC="${SWIFTC:-swiftc}"
DIR="$(mktemp -d "${TMPDIR:-/tmp}/lgpt-masker-bench.XXXXXX")"
trap 'rm -rf "$DIR"' EXIT

cat >"$DIR/reference.h" <<'EOF'
#define _GNU_SOURCE
#include <string.h>
/* Called through a volatile pointer: memmem is pure, and the optimiser would run it once per loop. */
static void *(*volatile reference_memmem_pointer)(const void *, size_t, const void *, size_t) = memmem;
static inline const void *reference_memmem(const void *h, size_t hl, const void *n, size_t nl) {
    return reference_memmem_pointer(h, hl, n, nl);
}
EOF

cat >"$DIR/main.swift" <<'EOF'
import Foundation

@inline(never) func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }

func measure(_ name: String, iterations: Int, _ body: () -> Void) {
    for _ in 0..<max(1, iterations / 10) { body() }
    var best = Double.infinity
    for _ in 0..<5 {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<iterations { body() }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / Double(iterations))
    }
    print(name.padding(toLength: 60, withPad: " ", startingAt: 0), String(format: "%9.0f ns", best))
}

let secrets = [
    "sk-proj-Q7vX2mR9pL4wK8nB3cT6yH1jF5dS0aZe", "sk-ant-api03-Zr2Wm7Yx5Kd3Nb9Vf1Lh4Jq8",
    "0f3c9a7e5b1d2c4e6a8b0d1f3e5c7a9b", "ghp_4Jq8Zr2Wm7Yx5Kd3Nb9Vf1LhQ7vX2mR9pL",
]
let masker = SecretMasker(secrets: secrets)
// A tool result as `ls -l` and a build log print it: 50 KB, no secret, but many of the secrets'
// first bytes ("s", "sk", "0", "g") and some near-misses ("user staff" matches "sk-ant"'s ends).
var lines: [String] = []
var i = 0
while lines.count < 800 {
    lines.append("-rw-r--r--  1 user staff  \(1000 + i * 37) Nov 23 07:\(10 + i % 50) Sources/file-\(i).swift")
    lines.append("[\(i)/860] Compiling sk-lib Task\(i).swift; the quick brown fox jumps over the lazy dog")
    i += 1
}
let tool = String(lines.joined(separator: "\n").prefix(50_000))
let withSecret = tool + "\nOPENAI_API_KEY=" + secrets[0] + "\n"
precondition(tool.utf8.count == 50_000 && masker.mask(tool) == tool)
precondition(!masker.mask(withSecret).contains(secrets[0]))
print("text: \(tool.utf8.count) bytes, \(secrets.count) secrets")

measure("mask, 50 KB tool result, no secret", iterations: 2000) { blackHole(masker.mask(tool)) }
measure("mask, 50 KB tool result, one secret at its end", iterations: 2000) { blackHole(masker.mask(withSecret)) }
let short = "The answer is 42."
measure("mask, a 17-byte answer", iterations: 1_000_000) { blackHole(masker.mask(short)) }
let arguments: JSONValue = ["command": "ls -la Sources", "timeout_ms": 1000]
measure("mask, a tool call's arguments (JSONValue)", iterations: 1_000_000) { blackHole(masker.mask(arguments)) }
var text = tool
let needles = secrets.map { Array($0.utf8) }
text.withUTF8 { utf8 in
    measure("reference: glibc memmem of each of the 4 secrets, 50 KB", iterations: 2000) {
        for needle in needles {
            blackHole(needle.withUnsafeBytes { reference_memmem(utf8.baseAddress, utf8.count, $0.baseAddress, $0.count) })
        }
    }
}
measure("reference: String.contains of each of the 4 secrets, 50 KB", iterations: 50) {
    blackHole(secrets.contains { tool.contains($0) })
}
let line = JSONValue.object([
    "type": "message",
    "message": .object(["role": "toolResult", "content": .array([.object(["type": "text", "text": .string(tool)])])]),
])
measure("reference: encoding the message's session line (JSON)", iterations: 500) { blackHole(line.encoded()) }
EOF

"$SWIFTC" -O -module-name MaskerBench -import-objc-header "$DIR/reference.h" -o "$DIR/bench" \
    Sources/LocalGPTCore/Security/SecretMasker.swift Sources/LocalGPTCore/JSON/JSONValue.swift \
    Sources/LocalGPTCore/JSON/JSONParser.swift "$DIR/main.swift"
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg)"
"$DIR/bench"
