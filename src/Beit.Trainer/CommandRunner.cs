namespace Beit.Trainer;

/// <summary>Runs a verb and turns any error into one readable line on stderr and exit code 1.</summary>
internal static class CommandRunner
{
    public static int Run(Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Errors users cause (bad paths, files, options) carry messages written for them; others name their type.
            bool expected = e is IOException or InvalidDataException or ArgumentException or InvalidOperationException
                or UnauthorizedAccessException or NotSupportedException or System.Text.Json.JsonException;
            Console.Error.WriteLine(expected ? $"error: {e.Message}" : $"error: {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }
}
