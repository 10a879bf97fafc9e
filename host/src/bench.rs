pub async fn run(_events: usize, _calls: usize) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
