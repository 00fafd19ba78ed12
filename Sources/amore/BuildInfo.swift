/// Which Amore this is. `scripts/release` checks that `version` names the same release as
/// the Helm chart and the Terraform module tags; the image build (deploy/Containerfile)
/// writes the commit it was built from into `commit`.
enum BuildInfo {
    static let version = "0.9.0"
    static let commit = "unknown"
}
