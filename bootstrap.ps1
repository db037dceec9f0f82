<#
.SYNOPSIS
    Once per machine: hardware probe, per-stage virtualenvs, cache folders, embedded model.
.DESCRIPTION
    The PowerShell twin of bootstrap.sh: the same options with PowerShell spelling, and the
    same CLI behind them (scripts/cli.py bootstrap), so both shells share all logic.
.EXAMPLE
    .\bootstrap.ps1 -SkipCache -Demo
.EXAMPLE
    .\bootstrap.ps1 -SkipCache -Yes
.EXAMPLE
    .\bootstrap.ps1 -Envs common,whisperx -Force
#>
param(
    [switch]$Force,                 # --force
    [string[]]$Envs,                # --envs a,b
    [switch]$SkipCache,             # --skip-cache
    [switch]$CacheModels,           # --cache-models
    [switch]$Yes,                   # --yes
    [Alias("Profile")]
    [string]$ModelProfile,          # --profile  ($PROFILE is a PowerShell automatic variable)
    [string]$CacheDir,              # --cache-dir
    [switch]$Demo,                  # --demo
    [string]$DemoMedia,             # --demo-media
    [string]$Out,                   # --out
    [string[]]$With,                # --with cluster (optional extras of the common venv)
    [ValidateSet("DEBUG", "INFO", "WARNING", "ERROR")]
    [string]$LogLevel = "INFO",     # --log-level
    [switch]$Debug                  # --debug
)

$ErrorActionPreference = "Stop"
$Root = Split-Path -Parent $MyInvocation.MyCommand.Path
# the script as the user typed it (.\bootstrap.ps1): help and usage errors name it, as in
# scripts/wrapper.sh; scripts/cli.py reads and removes it
$env:SUBPIPE_PROG = $MyInvocation.InvocationName

function Find-Python {
    $candidates = @()
    if ($env:SUBPIPE_PYTHON) { $candidates += $env:SUBPIPE_PYTHON }
    $candidates += @("python", "python3", "py")
    foreach ($cand in $candidates) {
        $cmd = Get-Command $cand -ErrorAction SilentlyContinue
        if (-not $cmd) { continue }
        & $cmd.Source -c "import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 13) else 1)" 2>$null
        if ($LASTEXITCODE -eq 0) { return $cmd.Source }
    }
    Write-Error ("no Python 3.10-3.13 found on PATH.`n  fix: winget install Python.Python.3.11 " +
                 "(or set SUBPIPE_PYTHON to a python.exe)")
    exit 2
}

$cliArgs = @("bootstrap")
if ($Force) { $cliArgs += "--force" }
if ($Envs) { $cliArgs += @("--envs", ($Envs -join ",")) }
if ($SkipCache) { $cliArgs += "--skip-cache" }
if ($CacheModels) { $cliArgs += "--cache-models" }
if ($Yes) { $cliArgs += "--yes" }
if ($ModelProfile) { $cliArgs += @("--profile", $ModelProfile) }
if ($CacheDir) { $cliArgs += @("--cache-dir", $CacheDir) }
if ($Demo) { $cliArgs += "--demo" }
if ($DemoMedia) { $cliArgs += @("--demo-media", $DemoMedia) }
if ($Out) { $cliArgs += @("--out", $Out) }
if ($With) { $cliArgs += @("--with", ($With -join ",")) }
$cliArgs += @("--log-level", $LogLevel)
if ($Debug) { $cliArgs += "--debug" }

$py = Find-Python
$common = & $py (Join-Path $Root "scripts/ensure_common.py")
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
$env:PYTHONPATH = $Root
& $common.Trim() -m scripts.cli @cliArgs
exit $LASTEXITCODE
