<#
.SYNOPSIS
    Builds, tests and packs Microsoft.ML.Beit.
.DESCRIPTION
    Run with the repository's local PowerShell tool:  dotnet tool restore; dotnet pwsh build.ps1 -Target Test
.PARAMETER Target
    Restore, Build, Test (default) or Pack. Each runs the ones before it.
.PARAMETER Configuration
    Debug (default) or Release.
.PARAMETER TorchBackend
    Native LibTorch for the tool and tests: cpu (default) or cuda.
#>
[CmdletBinding()]
param(
    [ValidateSet('Restore', 'Build', 'Test', 'Pack')]
    [string] $Target = 'Test',
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Debug',
    [ValidateSet('cpu', 'cuda')]
    [string] $TorchBackend = 'cpu'
)

$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
$solution = 'Beit.ML.sln'
$common = @("-p:TorchBackend=$TorchBackend", '-nologo')

function Invoke-Step([string] $name, [string[]] $arguments) {
    Write-Host "==> $name" -ForegroundColor Cyan
    & dotnet @arguments
    if ($LASTEXITCODE -ne 0) { throw "$name failed (exit code $LASTEXITCODE)." }
}

$order = 'Restore', 'Build', 'Test', 'Pack'
$upTo = $order.IndexOf($Target)

Invoke-Step 'Restore' (@('restore', $solution) + $common)
if ($upTo -ge 1) { Invoke-Step 'Build' (@('build', $solution, '-c', $Configuration, '--no-restore') + $common) }
if ($upTo -ge 2) {
    Invoke-Step 'Test' (@('test', $solution, '-c', $Configuration, '--no-build', '--logger', 'trx;LogFileName=results.trx',
        '--results-directory', 'artifacts/test-results') + $common)
}
if ($upTo -ge 3) {
    # The library package and the `beit` tool package go to artifacts/packages (a local NuGet feed).
    Invoke-Step 'Pack' (@('pack', $solution, '-c', $Configuration, '--no-build', '-o', 'artifacts/packages') + $common)
}
