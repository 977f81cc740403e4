# srvutil agent installer for Windows (x64), served by the central at GET /install.ps1.
#
# From an elevated PowerShell (Run as administrator), Windows PowerShell 5.1 or PowerShell 7:
#
#   & ([scriptblock]::Create((irm https://central.example/install.ps1))) -Enrol TOKEN
#
# (`irm ... | iex` cannot pass -Enrol; the script block form can.) Downloads the
# windows-x64 agent from the central it came from, checks its SHA-256 against
# the central's manifest, installs it as %ProgramFiles%\srvutil\srvutil-agent.exe,
# runs `srvutil-agent.exe install --enrol TOKEN` (which trades the enrolment
# token for this server's own agent token and creates the scheduled task),
# uploads once and checks that `srvutil-agent.exe status` shows it. Running it
# again is harmless: a current executable is left alone, and an agent that
# already reports is not enrolled twice. Errors are thrown, never `exit`, so the
# window that ran it stays open. This file holds no secret.
param(
  # The enrolment token (srvutil central enrol create).
  [string]$Enrol = '',
  # Download from and enrol with this URL instead of the built-in one.
  [string]$Central = '@@CENTRAL_URL@@',
  # Allow plain http:// to a host that is not loopback.
  [switch]$Insecure,
  # Enrol again although an agent already reports.
  [switch]$Reenrol,
  # Seconds to wait for the first upload (0: do not wait).
  [int]$Wait = 120,
  # Where the executable goes.
  [string]$InstallDir = ''
)

Set-StrictMode -Version 2
$ErrorActionPreference = 'Stop'
# Windows PowerShell 5.1 draws a progress bar per chunk, which makes a 90 MB download take minutes.
$ProgressPreference = 'SilentlyContinue'

function Write-Step([string]$Message) { Write-Host "srvutil install: $Message" }
function Stop-Install([string]$Message) { throw "srvutil install: error: $Message" }

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
  Stop-Install 'run it from an elevated PowerShell (Run as administrator)'
}
if ($env:PROCESSOR_ARCHITECTURE -ne 'AMD64' -and $env:PROCESSOR_ARCHITEW6432 -ne 'AMD64') {
  Write-Step "warning: this is $($env:PROCESSOR_ARCHITECTURE); the agent is an x64 executable (Windows 11 on ARM runs it emulated)"
}

$Central = $Central.TrimEnd('/')
$uri = $null
if (-not [Uri]::TryCreate($Central, [UriKind]::Absolute, [ref]$uri)) { Stop-Install "not a URL: '$Central'" }
if ($uri.Scheme -eq 'http') {
  # Plain http:// only to this machine: anyone on the path could swap the executable and the digest together.
  if (-not $uri.IsLoopback) {
    if (-not $Insecure) {
      Stop-Install "refusing plain http:// to $($uri.Authority): use the central's https:// URL, or pass -Insecure to accept an executable anyone on the network could replace"
    }
    Write-Step "warning: plain http:// to $($uri.Authority) (-Insecure)"
  }
} elseif ($uri.Scheme -ne 'https') {
  Stop-Install "the central URL must start with https:// (got '$Central')"
}
# Windows PowerShell 5.1 may not offer TLS 1.2 by default.
[Net.ServicePointManager]::SecurityProtocol = [Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12

if ($InstallDir -eq '') { $InstallDir = Join-Path $env:ProgramFiles 'srvutil' }
$exe = Join-Path $InstallDir 'srvutil-agent.exe'

$manifest = Invoke-RestMethod -UseBasicParsing -Uri "$Central/agent/manifest.json"
$entry = @($manifest.agents | Where-Object { $_.platform -eq 'windows-x64' })
if ($entry.Count -ne 1) {
  Stop-Install "the central has no windows-x64 agent: its operator builds it with 'npm run build:agent-bin && npm run build:agent'"
}
$want = $entry[0].sha256.ToLowerInvariant()

New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
if ((Test-Path -LiteralPath $exe) -and ((Get-FileHash -Algorithm SHA256 -LiteralPath $exe).Hash.ToLowerInvariant() -eq $want)) {
  Write-Step "$exe is current ($want)"
} else {
  $download = Join-Path $InstallDir ('srvutil-agent.download-' + [Guid]::NewGuid().ToString('N'))
  try {
    Write-Step "downloading the windows-x64 agent from $Central"
    Invoke-WebRequest -UseBasicParsing -Uri "$Central/agent/windows-x64" -OutFile $download
    $got = (Get-FileHash -Algorithm SHA256 -LiteralPath $download).Hash.ToLowerInvariant()
    if ($got -ne $want) {
      Stop-Install "SHA-256 mismatch for windows-x64: the manifest says $want, the download is $got; nothing installed"
    }
    # A running executable cannot be overwritten on Windows, but it can be renamed aside.
    if (Test-Path -LiteralPath $exe) {
      $old = "$exe.old"
      if (Test-Path -LiteralPath $old) { Remove-Item -Force -LiteralPath $old -ErrorAction SilentlyContinue }
      Move-Item -Force -LiteralPath $exe -Destination $old
    }
    Move-Item -Force -LiteralPath $download -Destination $exe
    Write-Step "installed $exe ($want)"
  } finally {
    if (Test-Path -LiteralPath $download) { Remove-Item -Force -LiteralPath $download }
  }
}

$env:SRVUTIL_CENTRAL_URL = $Central

function Get-LastUpload {
  $lines = @(& $exe status 2>$null)
  foreach ($line in $lines) {
    if ("$line" -match '^last upload\s+([^\s-].*)$') { return $Matches[1] }
  }
  return $null
}

if (-not $Reenrol) {
  $previous = Get-LastUpload
  if ($previous) {
    Write-Step "an agent on this server already uploads (last upload $previous); not enrolling again (-Reenrol to do it anyway)"
    return
  }
}
if ($Enrol -eq '') {
  Stop-Install "-Enrol TOKEN is required (create one with: srvutil central enrol create --servers '<glob>')"
}

Write-Step "enrolling with $Central"
& $exe install --enrol $Enrol --bin-dir $InstallDir
if ($LASTEXITCODE -ne 0) { Stop-Install "'srvutil-agent.exe install --enrol' failed with exit code $LASTEXITCODE (its message is above)" }

if ($Wait -le 0) {
  Write-Step 'installed; not waiting for the first upload (-Wait 0)'
  return
}
# One sample and an upload now, rather than waiting for the task's first round.
& $exe run --once *> $null
$deadline = (Get-Date).AddSeconds($Wait)
while ((Get-Date) -lt $deadline) {
  $up = Get-LastUpload
  if ($up) {
    Write-Step "first upload at ${up}: the server appears on the central's dashboard"
    return
  }
  Start-Sleep -Seconds 2
}
Stop-Install "installed, but no upload within $Wait s: run '$exe status' and see docs/agent.md"
