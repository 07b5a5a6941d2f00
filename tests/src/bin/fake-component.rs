//! A stand-in for a node's components in the node-collector tests: started through a
//! link named `kubelet`, `kube-apiserver`, ... with real flags, it shows them in
//! `/proc/<pid>/cmdline` and sleeps until the test stops it (two minutes at most, so a
//! test that dies cannot leave it behind for long).

fn main() {
    std::thread::sleep(std::time::Duration::from_secs(120));
}
