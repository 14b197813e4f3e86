namespace Beit.Trainer;

/// <summary>Runs a verb and turns the errors users can cause into one readable line and exit code 1.</summary>
internal static class CommandRunner
{
    public static int Run(Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or InvalidOperationException
                                       or UnauthorizedAccessException or NotSupportedException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
