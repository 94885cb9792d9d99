namespace GptWsBench.Load;

/// <summary>What the idle test saw.</summary>
/// <param name="Requested">Connections asked for.</param>
/// <param name="Open">Connections still open at the end.</param>
/// <param name="Failed">Connections that could not be opened.</param>
/// <param name="FirstError">First connect error.</param>
/// <param name="BaselineKiB">Daemon VmRSS before.</param>
/// <param name="HeldKiB">Daemon VmRSS (max of samples) while holding them.</param>
/// <param name="HwmKiB">Daemon VmHWM at the end.</param>
/// <param name="PingsAnswered">Answers to the pings sent on a sample of 100.</param>
/// <param name="ConnectTime">Time to open them all.</param>
public sealed record IdleResult(int Requested, int Open, int Failed, string? FirstError, long BaselineKiB, long HeldKiB, long HwmKiB, int PingsAnswered, TimeSpan ConnectTime)
{
    /// <summary>Memory per connection in KiB.</summary>
    public double KiBPerConnection => Open == 0 ? double.NaN : (double)(HeldKiB - BaselineKiB) / Open;
}
