fn main() {
    let image = forger::image! {
        metadata name="x" version="1"
        distro "debian-12"
        customization {
            user "ci" uid=1001 gid=1001 shell="/bin/bash" home="/home/ci" create-home=false
                password-hash="$6$salt$hash" comment="CI" {
                groups "sudo" "adm"
                authorized-key "ssh-ed25519 AAAA one"
                authorized-key "ssh-ed25519 AAAA two"
            }
            user "plain"
        }
    };
    let users = &image.content.customizations[0].users;
    assert_eq!(users[0].uid, Some(1001));
    assert_eq!(users[0].groups, vec!["sudo", "adm"]);
    assert_eq!(users[0].authorized_keys.len(), 2);
    assert!(!users[0].create_home);
    assert_eq!(users[1], forger::model::User::new("plain"));
}
