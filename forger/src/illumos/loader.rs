//! Console settings for the illumos loader and kernel: `/boot/conf.d/console`, `/boot/config`
//! and the console line of `/etc/ttydefs`.
//!
//! Facts it follows (OmniOS documentation for serial consoles, kayak's cloud images, the OmniOS
//! installer's post-install steps): the loader reads every file in `/boot/conf.d`; `console`
//! picks the loader's console (`"ttya,text"` keeps the screen as a second one), `os_console` the
//! kernel's, and `ttyX-mode` the line settings `speed,8,n,1,-`, which the kernel's serial
//! driver also reads. `/boot/config` holding `-h` makes the BIOS first stage (gptzfsboot) talk
//! on the serial line. `ttymon` on the console takes its speed from the `console:` entry of
//! `/etc/ttydefs` (9600 by default), which the installer rewrites to the chosen speed.

use std::fs;

use super::Error;
use crate::stage::{Entry, EntryKind, StagePath, StagingTree};

/// Where the console settings go (one file of the loader's `conf.d`).
pub const CONSOLE_CONF: &str = "/boot/conf.d/console";
/// The BIOS first stage's option file.
pub const BOOT_CONFIG: &str = "/boot/config";
/// ttymon's line settings.
pub const TTYDEFS: &str = "/etc/ttydefs";

/// Which console the loader and the kernel use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Console {
    /// The screen and keyboard (VGA or the UEFI framebuffer).
    #[default]
    Text,
    /// The first serial port (COM1).
    Ttya,
    /// The second serial port (COM2).
    Ttyb,
}

impl Console {
    /// The loader's name for the device (`text`, `ttya`, `ttyb`).
    pub fn name(self) -> &'static str {
        match self {
            Console::Text => "text",
            Console::Ttya => "ttya",
            Console::Ttyb => "ttyb",
        }
    }
}

/// The console to boot with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleOptions {
    /// The device.
    pub console: Console,
    /// Line speed of a serial console in bit/s (ignored for [`Console::Text`]).
    pub speed: u32,
    /// Seconds the loader waits before booting (`autoboot_delay`); `None` keeps its default.
    pub autoboot_delay: Option<u32>,
}

impl Default for ConsoleOptions {
    fn default() -> Self {
        ConsoleOptions {
            console: Console::Text,
            speed: 115_200,
            autoboot_delay: None,
        }
    }
}

/// Speeds the illumos serial driver (asy) offers for a console.
const SPEEDS: [u32; 5] = [9600, 19_200, 38_400, 57_600, 115_200];

/// The text of `/boot/conf.d/console` for `opts`.
pub fn console_conf(opts: &ConsoleOptions) -> Result<String, Error> {
    let mut s = String::from("# Written by Forger: console of the loader and the kernel.\n");
    match opts.console {
        Console::Text => {
            s.push_str("console=\"text\"\nos_console=\"text\"\n");
        }
        serial => {
            if !SPEEDS.contains(&opts.speed) {
                return Err(Error::SerialSpeed { speed: opts.speed });
            }
            let dev = serial.name();
            s.push_str(&format!(
                "console=\"{dev},text\"\nos_console=\"{dev}\"\n{dev}-mode=\"{},8,n,1,-\"\n",
                opts.speed
            ));
        }
    }
    if let Some(d) = opts.autoboot_delay {
        s.push_str(&format!("autoboot_delay=\"{d}\"\n"));
    }
    Ok(s)
}

/// Writes the console settings into the tree: `/boot/conf.d/console` always; for a serial
/// console also `/boot/config` (`-h`) and the speed of the `console:` line in `/etc/ttydefs`
/// (when the tree has that file). New files are `root:root 0644` with mtime `epoch`.
pub fn write_console_settings(
    tree: &mut StagingTree,
    opts: &ConsoleOptions,
    epoch: i64,
) -> Result<(), Error> {
    let text = console_conf(opts)?;
    let mut entry = Entry::file(0, 0, 0o644);
    entry.mtime = epoch;
    let conf = StagePath::new(CONSOLE_CONF)?;
    tree.ensure_dir_parents(&conf.parent().expect("has a parent"))?;
    tree.write_file(&conf, &mut text.as_bytes(), entry.clone())?;
    if opts.console == Console::Text {
        return Ok(());
    }
    tree.write_file(&StagePath::new(BOOT_CONFIG)?, &mut &b"-h\n"[..], entry)?;
    let ttydefs = StagePath::new(TTYDEFS)?;
    if let Some(old) = tree.manifest.get(&ttydefs).cloned()
        && matches!(old.kind, EntryKind::File)
    {
        let host = tree.host_path(&ttydefs);
        let before = fs::read_to_string(&host).map_err(Error::io(&host))?;
        let after = set_console_speed(&before, opts.speed);
        if after != before {
            let mut e = old;
            e.mtime = e.mtime.min(epoch);
            tree.write_file(&ttydefs, &mut after.as_bytes(), e)?;
        }
    }
    Ok(())
}

/// Replaces the speed in the `console:` entry of ttydefs text (`console:9600 hupcl opost
/// onlcr:9600::console`); other lines are kept byte for byte.
pub fn set_console_speed(ttydefs: &str, speed: u32) -> String {
    let mut out = String::with_capacity(ttydefs.len());
    for line in ttydefs.split_inclusive('\n') {
        if line.starts_with("console:") {
            out.push_str(&replace_speeds(line, speed));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Replaces every known speed token in one ttydefs line by `speed`.
fn replace_speeds(line: &str, speed: u32) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if let Ok(v) = digits.parse::<u32>()
            && SPEEDS.contains(&v)
        {
            out.push_str(&speed.to_string());
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in line.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_console_conf_names_device_and_mode() {
        let opts = ConsoleOptions {
            console: Console::Ttyb,
            speed: 38_400,
            autoboot_delay: Some(2),
        };
        let text = console_conf(&opts).unwrap();
        assert!(text.contains("console=\"ttyb,text\"\n"));
        assert!(text.contains("os_console=\"ttyb\"\n"));
        assert!(text.contains("ttyb-mode=\"38400,8,n,1,-\"\n"));
        assert!(text.contains("autoboot_delay=\"2\"\n"));
    }

    #[test]
    fn unsupported_speed_is_refused() {
        let opts = ConsoleOptions {
            console: Console::Ttya,
            speed: 12_345,
            autoboot_delay: None,
        };
        assert!(matches!(
            console_conf(&opts),
            Err(Error::SerialSpeed { speed: 12_345 })
        ));
    }

    #[test]
    fn ttydefs_console_line_gets_the_speed() {
        let before = "# ttydefs\nconsole:9600 hupcl opost onlcr:9600::console\n\
                      contty:9600 hupcl opost onlcr:9600 sane::contty1\n";
        let after = set_console_speed(before, 115_200);
        assert_eq!(
            after,
            "# ttydefs\nconsole:115200 hupcl opost onlcr:115200::console\n\
             contty:9600 hupcl opost onlcr:9600 sane::contty1\n"
        );
    }
}
