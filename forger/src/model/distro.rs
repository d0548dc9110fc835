//! [`Distro`] and [`Architecture`]: which operating system the image is and for which CPU.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Error;

/// The operating system of the image. Written as in specs: `"omnios"`, `"openindiana"`,
/// `"ubuntu-22.04"`, `"debian-12"` (or `"debian-bookworm"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Distro {
    /// OmniOS (illumos, IPS packages, ZFS root). The default, as in the earlier tool.
    #[default]
    OmniOs,
    /// OpenIndiana (illumos, IPS packages, ZFS root).
    OpenIndiana,
    /// Ubuntu of the given release (`"22.04"`), installed with APT.
    Ubuntu(String),
    /// Debian of the given release (`"12"` or a codename such as `"bookworm"`).
    Debian(String),
}

/// How packages are installed, which decides defaults (filesystem, bootloader, OCI `os`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// illumos distributions with IPS packages.
    Ips,
    /// Debian and Ubuntu with APT packages.
    Apt,
}

impl Distro {
    /// The package family.
    pub fn family(&self) -> Family {
        match self {
            Distro::OmniOs | Distro::OpenIndiana => Family::Ips,
            Distro::Ubuntu(_) | Distro::Debian(_) => Family::Apt,
        }
    }

    /// The boot-environment name the distribution's installer uses (`rpool/ROOT/<be>`).
    pub fn default_boot_environment(&self) -> &'static str {
        match self {
            Distro::OmniOs => "omnios",
            Distro::OpenIndiana => "openindiana",
            Distro::Ubuntu(_) => "ubuntu",
            Distro::Debian(_) => "debian",
        }
    }

    /// The APT suite (codename) of a Debian or Ubuntu release, when known.
    pub fn apt_suite(&self) -> Option<String> {
        let known = |v: &str| -> Option<&'static str> {
            Some(match v {
                "10" => "buster",
                "11" => "bullseye",
                "12" => "bookworm",
                "13" => "trixie",
                "14" => "forky",
                "20.04" => "focal",
                "22.04" => "jammy",
                "24.04" => "noble",
                _ => return None,
            })
        };
        match self {
            Distro::Debian(v) | Distro::Ubuntu(v) => {
                Some(known(v).map(str::to_owned).unwrap_or_else(|| v.clone()))
            }
            _ => None,
        }
    }

    /// The OCI `os` value: `solaris` for illumos, `linux` otherwise.
    pub fn oci_os(&self) -> &'static str {
        match self.family() {
            Family::Ips => "solaris",
            Family::Apt => "linux",
        }
    }
}

impl FromStr for Distro {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let version = |prefix: &str| {
            lower
                .strip_prefix(prefix)
                .filter(|v| {
                    !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
                })
                .map(str::to_owned)
        };
        if lower == "omnios" {
            Ok(Distro::OmniOs)
        } else if lower == "openindiana" {
            Ok(Distro::OpenIndiana)
        } else if let Some(v) = version("ubuntu-") {
            Ok(Distro::Ubuntu(v))
        } else if let Some(v) = version("debian-") {
            Ok(Distro::Debian(v))
        } else {
            Err(Error::UnknownDistro {
                value: s.to_owned(),
            })
        }
    }
}

impl fmt::Display for Distro {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Distro::OmniOs => f.write_str("omnios"),
            Distro::OpenIndiana => f.write_str("openindiana"),
            Distro::Ubuntu(v) => write!(f, "ubuntu-{v}"),
            Distro::Debian(v) => write!(f, "debian-{v}"),
        }
    }
}

impl Serialize for Distro {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Distro {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The CPU architecture of the image, with OCI's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// x86-64.
    #[default]
    Amd64,
    /// AArch64.
    Arm64,
}

impl Architecture {
    /// The OCI / Debian name.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Amd64 => "amd64",
            Architecture::Arm64 => "arm64",
        }
    }
}

impl FromStr for Architecture {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "amd64" | "x86_64" | "x86-64" | "i86pc" => Ok(Architecture::Amd64),
            "arm64" | "aarch64" => Ok(Architecture::Arm64),
            _ => Err(Error::UnknownArchitecture {
                value: s.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distro_names_round_trip() {
        for s in [
            "omnios",
            "openindiana",
            "ubuntu-22.04",
            "debian-12",
            "debian-bookworm",
        ] {
            assert_eq!(s.parse::<Distro>().unwrap().to_string(), s);
        }
        assert!("fedora-40".parse::<Distro>().is_err());
        assert!("ubuntu-".parse::<Distro>().is_err());
        assert_eq!(Distro::Debian("12".into()).apt_suite().unwrap(), "bookworm");
        assert_eq!(Distro::Ubuntu("22.04".into()).apt_suite().unwrap(), "jammy");
        assert_eq!("OmniOS".parse::<Distro>().unwrap(), Distro::OmniOs);
    }
}
