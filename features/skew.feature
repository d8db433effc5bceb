Feature: The x-date window
  A signed request's x-date must be close to the server's time (S3 refuses beyond 900 s, SigV4
  beyond 300 s, Hawk accepts within 60 s). The suite measures the target's time from its Date
  header (RFC 9110 §6.6.1), not from its own clock; a target that sends none is not checked
  here. A target may declare its window in the config (hmac_skew_seconds); the suite then also
  checks the window's edges.

  @must @HMAC-7
  Scenario Outline: An x-date <offset> seconds from the target's time is refused
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    And the target's time is known from its Date header
    When they send a request signed with an x-date <offset> seconds from the target's time
    Then the response status is 401

    Examples:
      | offset |
      | -1000  |
      | +1000  |

  @must @HMAC-7
  Scenario: An x-date written YYYY-MM-DDTHH:MM:SSZ at the target's time is accepted
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    And the target's time is known from its Date header
    When they send a request signed with an x-date 0 seconds from the target's time
    Then the signed request is authenticated

  @should @HMAC-7
  Scenario Outline: An x-date <offset> seconds from the target's time is <fate>
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    And the target's time is known from its Date header
    When they send a request signed with an x-date <offset> seconds from the target's time
    Then the signed request is <fate>

    Examples:
      | offset | fate          |
      | -330   | refused       |
      | +330   | refused       |
      | -50    | authenticated |
      | +50    | authenticated |

  @should @HMAC-7
  Scenario Outline: An x-date <where> of the declared window is <fate>
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    And the target's time is known from its Date header
    When they send a request signed with an x-date <where> of the declared window
    Then the signed request is <fate>

    Examples:
      | where                       | fate          |
      | 60 seconds before the start | refused       |
      | 60 seconds past the end     | refused       |
      | halfway back to the start   | authenticated |
      | halfway on to the end       | authenticated |
