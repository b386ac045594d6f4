//! Which IP addresses count as internal: anything a sandboxed tool must not reach unless the
//! operator's rule for that host says so (loopback, private ranges, link-local such as the
//! cloud metadata service, carrier-grade NAT, reserved and multicast ranges).
//!
//! Invariant: the check runs on the canonical form, so an IPv4-mapped IPv6 address
//! (`::ffff:10.0.0.1`) is judged as the IPv4 address it carries.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is internal (not a public unicast address).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    const RANGES: &[([u8; 4], u32)] = &[
        ([0, 0, 0, 0], 8),      // "this network", includes 0.0.0.0
        ([10, 0, 0, 0], 8),     // private
        ([100, 64, 0, 0], 10),  // carrier-grade NAT
        ([127, 0, 0, 0], 8),    // loopback
        ([169, 254, 0, 0], 16), // link-local, cloud metadata
        ([172, 16, 0, 0], 12),  // private
        ([192, 0, 0, 0], 24),   // IETF protocol assignments
        ([192, 168, 0, 0], 16), // private
        ([198, 18, 0, 0], 15),  // benchmarking
        ([224, 0, 0, 0], 4),    // multicast
        ([240, 0, 0, 0], 4),    // reserved, includes broadcast
    ];
    RANGES.iter().any(|(net, prefix)| in_v4(ip, *net, *prefix))
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    let in_v6 = |net: u128, prefix: u32| {
        let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
        bits & mask == net & mask
    };
    ip.is_unspecified()
        || ip.is_loopback()
        || in_v6(0, 96) // deprecated IPv4-compatible ::a.b.c.d
        || in_v6(0xfc00 << 112, 7) // unique local
        || in_v6(0xfe80 << 112, 10) // link-local
        || in_v6(0xfec0 << 112, 10) // deprecated site-local
        || in_v6(0xff00 << 112, 8) // multicast
        || in_v6(0x0064_ff9b << 96, 96) // NAT64 well-known prefix: embeds any IPv4
        || in_v6(0x0064_ff9b_0001 << 80, 48) // NAT64 local-use prefix
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn internal(s: &str) -> bool {
        is_internal(s.parse().unwrap())
    }

    #[test]
    fn internal_v4_ranges_are_caught() {
        for ip in [
            "0.0.0.0",
            "10.0.0.1",
            "100.64.0.1",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.170",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(internal(ip), "{ip} should be internal");
        }
    }

    #[test]
    fn public_v4_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "198.20.0.1",
            "93.184.216.34",
        ] {
            assert!(!internal(ip), "{ip} should be public");
        }
    }

    #[test]
    fn internal_v6_ranges_and_mapped_v4_are_caught() {
        for ip in [
            "::",
            "::1",
            "::ffff:192.168.1.1",
            "::ffff:127.0.0.1",
            "::10.0.0.1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
        ] {
            assert!(internal(ip), "{ip} should be internal");
        }
    }

    #[test]
    fn public_v6_addresses_pass() {
        for ip in [
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
        ] {
            assert!(!internal(ip), "{ip} should be public");
        }
    }
}
