//! Which IP addresses count as internal: anything a sandboxed tool must not reach unless the
//! operator's rule for that host says so (loopback, private ranges, link-local such as the
//! cloud metadata service, carrier-grade NAT, reserved and multicast ranges).
//!
//! Invariant: an IPv6 address that carries an IPv4 address is judged by the IPv4 address it
//! carries as well as by its own range, and the stricter answer wins. The carrying forms are
//! IPv4-mapped `::ffff:0:0/96` and IPv4-translated `::ffff:0:0:0/96` (the last 32 bits), 6to4
//! `2002::/16` (bits 16..48), NAT64 `64:ff9b::/96` (the last 32 bits) and Teredo `2001::/32`
//! (its server in bits 32..64 and its client, XORed with `0xffffffff`, in the last 32 bits:
//! either being internal is enough). IPv4-compatible `::/96` (deprecated) and the NAT64
//! local-use prefix `64:ff9b:1::/48` (where the operator's translator decides the layout) are
//! internal whatever they carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is internal (not a public unicast address).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            is_internal_v6(v6) || carried_v4(v6).into_iter().flatten().any(is_internal_v4)
        }
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

/// Whether `bits` lies in `net/prefix`.
fn in_v6(bits: u128, net: u128, prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    bits & mask == net & mask
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    ip.is_unspecified()
        || ip.is_loopback()
        || in_v6(bits, 0, 96) // deprecated IPv4-compatible ::a.b.c.d
        || in_v6(bits, 0xfc00 << 112, 7) // unique local
        || in_v6(bits, 0xfe80 << 112, 10) // link-local
        || in_v6(bits, 0xfec0 << 112, 10) // deprecated site-local
        || in_v6(bits, 0xff00 << 112, 8) // multicast
        || in_v6(bits, 0x0064_ff9b_0001 << 80, 48) // NAT64 local-use prefix
}

/// The IPv4 addresses `ip` carries, if it is one of the forms that embed one (at most two:
/// a Teredo server and client).
fn carried_v4(ip: Ipv6Addr) -> [Option<Ipv4Addr>; 2] {
    const MAPPED: u128 = 0xffff << 32;
    const TRANSLATED: u128 = 0xffff << 48;
    const NAT64: u128 = 0x0064_ff9b << 96;
    const SIX_TO_FOUR: u128 = 0x2002 << 112;
    const TEREDO: u128 = 0x2001_0000 << 96;
    let bits = u128::from(ip);
    // The cast keeps the 32 bits that the shift brought to the bottom.
    let v4_at = |shift: u32| Ipv4Addr::from((bits >> shift) as u32);
    if [MAPPED, TRANSLATED, NAT64]
        .iter()
        .any(|net| in_v6(bits, *net, 96))
    {
        [Some(v4_at(0)), None]
    } else if in_v6(bits, SIX_TO_FOUR, 16) {
        [Some(v4_at(80)), None]
    } else if in_v6(bits, TEREDO, 32) {
        [Some(v4_at(64)), Some(Ipv4Addr::from(!(bits as u32)))]
    } else {
        [None, None]
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
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

    /// Every IPv6 form that carries an IPv4 address, built around an internal one: each must
    /// be judged by the IPv4 address it carries.
    #[test]
    fn v6_forms_carrying_internal_v4_are_internal() {
        for ip in [
            // IPv4-mapped and IPv4-translated (SIIT).
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:0:127.0.0.1",
            "::ffff:0:a00:1",
            // IPv4-compatible (deprecated).
            "::127.0.0.1",
            "::a9fe:a9fe",
            // 6to4: IPv4 in bits 16..48, whatever the subnet and interface bits.
            "2002:7f00:1::",
            "2002:7f00:0001:ffff:ffff:ffff:ffff:ffff",
            "2002:a00:1::1",
            "2002:c0a8:101::",
            "2002:a9fe:a9fe::1",
            "2002:6440:1::",
            "2002:0:0::1",
            "2002:e000:1::",
            // NAT64 well-known prefix: IPv4 in the last 32 bits.
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b::169.254.169.254",
            "64:ff9b::192.168.0.1",
            // NAT64 local-use prefix: internal whatever it carries.
            "64:ff9b:1::7f00:1",
            "64:ff9b:1::808:808",
            "64:ff9b:1:ffff::1",
        ] {
            assert!(internal(ip), "{ip} should be internal");
        }
    }

    /// Teredo: `2001:0:SERVER:flags:port:CLIENT`, the client XORed with 0xffffffff. Either
    /// address being internal is enough.
    #[test]
    fn teredo_is_internal_if_its_server_or_its_client_is() {
        for ip in [
            // Server 127.0.0.1, client 8.8.8.8 (f7f7:f7f7).
            "2001:0:7f00:1:0:0:f7f7:f7f7",
            // Server 8.8.8.8, client 127.0.0.1 (80ff:fffe).
            "2001:0:808:808:0:0:80ff:fffe",
            // Server 8.8.8.8, client 10.0.0.1 (f5ff:fffe).
            "2001:0:808:808:8000:ffff:f5ff:fffe",
            // Server 8.8.8.8, client 169.254.169.254 (5601:5601).
            "2001::808:808:0:0:5601:5601",
            // Server 192.168.1.1, client 1.1.1.1 (fefe:fefe).
            "2001:0:c0a8:101::fefe:fefe",
            // Both public except the client 0.0.0.0 (ffff:ffff).
            "2001:0:808:808::ffff:ffff",
        ] {
            assert!(internal(ip), "{ip} should be internal");
        }
        // The client is the XOR: read raw, the last 32 bits of client 8.8.8.8 would be
        // 247.247.247.247 (reserved space) and the address wrongly internal.
        assert!(!internal("2001:0:808:808:0:0:f7f7:f7f7"));
    }

    #[test]
    fn v6_forms_carrying_public_v4_are_public() {
        for ip in [
            "::ffff:1.1.1.1",
            "::ffff:0:8.8.8.8",
            "2002:808:808::1",
            "2002:5db8:d822:1::",
            "64:ff9b::8.8.8.8",
            "64:ff9b::5db8:d822",
            // Teredo with a public server (8.8.8.8) and a public client (1.1.1.1).
            "2001:0:808:808:0:0:fefe:fefe",
        ] {
            assert!(!internal(ip), "{ip} should be public");
        }
    }

    /// Only the exact prefixes carry an address: neighbours of them are ordinary IPv6.
    #[test]
    fn neighbours_of_the_embedding_prefixes_are_not_decoded() {
        for ip in [
            // Not 2002::/16.
            "2003:7f00:1::",
            // Not 2001::/32 (2001:4860::/32 is an ordinary allocation).
            "2001:4860:7f00:1::80ff:fffe",
            // Not 64:ff9b::/96: a non-zero bit inside the prefix.
            "64:ff9b:0:0:1::7f00:1",
        ] {
            assert!(!internal(ip), "{ip} should be public");
        }
    }
}
