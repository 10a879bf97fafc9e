pub async fn run(_data_dir: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
