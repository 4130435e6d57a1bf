//===----------------------------------------------------------------------===//
// LocalGPT for Swift. Apache-2.0.
//===----------------------------------------------------------------------===//

import Glibc

/// Whether an IP address is on the public internet: what `http` checks for a plugin granted any
/// public host (`"*"` in `permissions.net.hosts`, the bundled `web_fetch`) on every connection,
/// after name resolution and on every redirect, so a name that resolves to a private address (DNS
/// rebinding included) is refused before anything is sent.
public enum PublicAddress {
    /// True for a global unicast address; false for loopback, private (RFC 1918, ULA), carrier-grade
    /// NAT, link-local, multicast, documentation, benchmark, reserved and unspecified addresses, and
    /// for IPv6 forms that embed such an IPv4 address (mapped, compatible, NAT64, 6to4).
    public static func isPublic(_ address: String) -> Bool {
        var text = address
        if text.hasPrefix("[") && text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        if let percent = text.firstIndex(of: "%") { text = String(text[..<percent]) }  // zone id: link-local
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            let b = withUnsafeBytes(of: v4.s_addr) { Array($0) }
            return isPublicIPv4(b)
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            let b = withUnsafeBytes(of: v6) { Array($0) }
            return isPublicIPv6(b)
        }
        return false
    }

    static func isPublicIPv4(_ b: [UInt8]) -> Bool {
        guard b.count == 4 else { return false }
        switch (b[0], b[1], b[2]) {
        case (0, _, _), (10, _, _), (127, _, _): return false
        case (100, 64...127, _): return false  // carrier-grade NAT
        case (169, 254, _): return false  // link-local, cloud metadata
        case (172, 16...31, _): return false
        case (192, 0, 0), (192, 0, 2), (192, 88, 99), (192, 168, _): return false
        case (198, 18...19, _), (198, 51, 100), (203, 0, 113): return false
        default: return b[0] < 224  // multicast 224/4, reserved 240/4, broadcast
        }
    }

    static func isPublicIPv6(_ b: [UInt8]) -> Bool {
        guard b.count == 16 else { return false }
        let zeros10 = b[0..<10].allSatisfy { $0 == 0 }
        if zeros10 && b[10] == 0xff && b[11] == 0xff { return isPublicIPv4(Array(b[12..<16])) }  // mapped
        if b[0..<12].allSatisfy({ $0 == 0 }) { return false }  // ::, ::1, IPv4-compatible
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4..<12].allSatisfy({ $0 == 0 }) {
            return isPublicIPv4(Array(b[12..<16]))  // NAT64 64:ff9b::/96
        }
        if b[0] == 0x20 && b[1] == 0x02 { return isPublicIPv4(Array(b[2..<6])) }  // 6to4
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8 { return false }  // documentation
        if b[0] == 0x01 && b[1] == 0x00 && b[2..<8].allSatisfy({ $0 == 0 }) { return false }  // discard 100::/64
        if (b[0] & 0xfe) == 0xfc { return false }  // unique local fc00::/7
        if b[0] == 0xfe && (b[1] & 0xc0) == 0x80 { return false }  // link-local fe80::/10
        if b[0] == 0xfe && (b[1] & 0xc0) == 0xc0 { return false }  // site-local (deprecated)
        if b[0] == 0xff { return false }  // multicast
        return (b[0] & 0xe0) == 0x20  // global unicast 2000::/3
    }
}
